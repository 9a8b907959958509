import { Controller, Get } from '@nestjs/common';
import { LeaderElectionService } from 'nestjs-redis-coordination';
import { Instance } from '../instance.js';
import { SalesReportJob } from './sales-report.job.js';

@Controller('leader')
export class LeaderController {
  constructor(
    private readonly job: SalesReportJob,
    private readonly elections: LeaderElectionService,
    private readonly instance: Instance,
  ) {}

  /** Who compiles the sales report (as this instance sees it), and the report itself. */
  @Get()
  async leader() {
    const { leader, term } = this.job.leaderState;
    return {
      servedBy: this.instance.name,
      me: this.elections.instanceId,
      isLeader: this.job.election.isLeader,
      leader,
      term,
      compiledHere: this.job.compiledHere,
      report: await this.job.latest(),
    };
  }
}
